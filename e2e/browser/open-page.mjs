// open-page.mjs URL TEXT: opens URL in headless Chromium and waits until
// TEXT shows on the page. Prints one line per websocket the page opened
// ("websocket URL"), so a caller can check that live apps (Streamlit,
// Gradio) talked to their server. Exits non-zero when TEXT never shows.
// Used by the Spaces suite (e2e/python_spaces).
import { chromium } from "playwright-core";

const [url, text] = process.argv.slice(2);
if (!url || !text) {
	console.error("usage: node open-page.mjs URL TEXT");
	process.exit(2);
}
const browser = await chromium.launch({
	executablePath: process.env.HAVEN_CHROMIUM || "/usr/bin/chromium",
	headless: true,
	args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"],
});
let code = 0;
try {
	const page = await browser.newPage();
	const sockets = [];
	page.on("websocket", (ws) => sockets.push(ws.url()));
	await page.goto(url, { waitUntil: "domcontentloaded", timeout: 60_000 });
	await page.getByText(text).first().waitFor({ timeout: 60_000 });
	for (const s of sockets) console.log("websocket " + s);
	if (process.env.HAVEN_SCREENSHOT) await page.screenshot({ path: process.env.HAVEN_SCREENSHOT });
} catch (err) {
	console.error(String(err));
	code = 1;
} finally {
	await browser.close();
}
process.exit(code);
