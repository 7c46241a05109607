// Full-page answers for what stops a page: a key that may not see it (403), a gateway that is
// down, or anything else the API refused.
import { ApiError } from "../api/client";

export function ErrorPage({ title, message, retry }: { title: string; message: string; retry?: () => void }) {
  return (
    <section class="error-page" aria-labelledby="error-title">
      <h1 id="error-title">{title}</h1>
      <p>{message}</p>
      {retry && (
        <button type="button" class="primary" onClick={retry}>
          Try again
        </button>
      )}
    </section>
  );
}

/** The page for an error a page's first request got, or undefined if it is not one that stops the page. */
export function errorPageFor(err: unknown, retry?: () => void) {
  if (!(err instanceof ApiError)) return <ErrorPage title="Something went wrong" message={String((err as Error)?.message ?? err)} retry={retry} />;
  if (err.status === 403)
    return (
      <ErrorPage
        title="Not allowed (403)"
        message={err.code === "FORBIDDEN_WORKSPACE" ? "This key belongs to another workspace: it cannot see this one." : "This page needs an admin key; a workspace key cannot open it."}
      />
    );
  if (err.gatewayDown) return <ErrorPage title="The gateway is down" message={err.message} retry={retry} />;
  return <ErrorPage title={`Error ${err.status}`} message={`${err.message} (${err.code})`} retry={retry} />;
}
