// Creates on the server under test stand-ins for the few production files
// that upload specs take as content (new URL("https://huggingface.co/...")),
// and prints the map from each production URL to its stand-in for guard.ts.
//
// A stand-in holds what the spec expects of the file: gpt2's config.json is
// the text upload-file.spec.ts compares the uploaded copy with; the others are
// compared only with a fresh fetch of the same URL, so any bytes do.
//
//   node standins.mjs HUB_URL USER TOKEN SPEC_DIR
import { readFileSync } from "node:fs";

const [hub, user, token, specs] = process.argv.slice(2);
const auth = { Authorization: `Bearer ${token}` };

const spec = readFileSync(`${specs}/upload-file.spec.ts`, "utf8");
const m = spec.match(/path: "config\.json"[\s\S]*?\.trim\(\),\s*`([\s\S]*?)`\.trim\(\)/);
if (!m) throw new Error("upload-file.spec.ts no longer says what gpt2's config.json holds");
const gpt2Config = m[1].trim() + "\n";

const standins = [
	{ url: "https://huggingface.co/gpt2/raw/main/config.json", type: "model", name: "standin-gpt2", path: "config.json", content: gpt2Config },
	{
		url: "https://huggingface.co/spaces/aschen/push-model-from-web/raw/main/mobilenet/model.json",
		type: "space", name: "standin-aschen-push-model-from-web", path: "mobilenet/model.json",
		content: JSON.stringify({ format: "layers-model", stand_in: true }) + "\n",
	},
	{
		url: "https://huggingface.co/spaces/huggingfacejs/push-model-from-web/resolve/main/mobilenet/group1-shard1of2",
		type: "space", name: "standin-huggingfacejs-push-model-from-web", path: "mobilenet/group1-shard1of2",
		content: "stand-in weights\n".repeat(64),
	},
];

async function call(method, path, body, type = "application/json") {
	const res = await fetch(hub + path, { method, headers: { ...auth, "Content-Type": type }, body });
	if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
}

const map = {};
for (const s of standins) {
	const repo = `${user}/${s.name}`;
	await call("POST", "/api/repos/create", JSON.stringify({
		name: s.name, organization: user, type: s.type, ...(s.type === "space" ? { sdk: "static" } : {}),
	}));
	const lines = [
		{ key: "header", value: { summary: "stand-in" } },
		{ key: "file", value: { path: s.path, content: Buffer.from(s.content).toString("base64"), encoding: "base64" } },
	];
	await call("POST", `/api/${s.type}s/${repo}/commit/main`, lines.map((l) => JSON.stringify(l)).join("\n"), "application/x-ndjson");
	const kind = s.url.includes("/raw/") ? "raw" : "resolve";
	map[s.url] = `${hub}/${s.type === "space" ? "spaces/" : ""}${repo}/${kind}/main/${s.path}`;
}
console.log(JSON.stringify(map));
