// Puppeteer must never try to download a browser: wafleet uses the system Chromium (CHROME_PATH).
module.exports = { skipDownload: true };
