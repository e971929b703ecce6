// Setup file of the suite (run.sh copies it into the work folder as
// src/test/haven-guard.ts and names it in vitest's setupFiles).
//
// Three jobs: a test that reaches for a host other than the server under test
// (the production hub, its CDN, an inference provider) fails at once, naming
// the host, instead of going through retries on a name that never resolves;
// the few production files that upload specs take as content are read from
// their stand-ins on the server under test (standins.mjs); and the tests
// listed in deselect.txt are skipped before they start.
import { beforeEach } from "vitest";

const allowed = new Set(["localhost", "127.0.0.1", "[::1]"]);

class ProductionHubNeeded extends TypeError {}

function hostOf(input: unknown): string | undefined {
	try {
		if (typeof input === "string") return new URL(input).hostname;
		if (input instanceof URL) return input.hostname;
		if (input && typeof input === "object" && "url" in input) return new URL(String((input as Request).url)).hostname;
	} catch {
		return undefined;
	}
	return undefined;
}

const standins: Record<string, string> = JSON.parse(process.env.HAVEN_CS_STANDINS ?? "{}");

const realFetch = globalThis.fetch;
globalThis.fetch = function guardedFetch(input: Parameters<typeof fetch>[0], init?: RequestInit) {
	const url = typeof input === "string" ? input : input instanceof URL ? input.href : undefined;
	if (url !== undefined && standins[url]) {
		return realFetch(standins[url], init);
	}
	const host = hostOf(input);
	if (host !== undefined && !allowed.has(host)) {
		return Promise.reject(new ProductionHubNeeded(`this test reaches ${host}, which is not the server under test`));
	}
	return realFetch(input, init);
} as typeof fetch;

// One pattern a line: a spec file (src/lib/x.spec.ts) drops the whole file
// (run.sh excludes it); "FILE > describe > test" drops one test, * matching
// any run of characters. Text after # is the reason.
const patterns: RegExp[] = JSON.parse(process.env.HAVEN_CS_DESELECT_TESTS ?? "[]").map(
	(p: string) => new RegExp("^" + p.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*") + "$")
);

beforeEach((ctx) => {
	const names: string[] = [];
	for (let t: { name: string; suite?: unknown } | undefined = ctx.task; t; t = t.suite as typeof t) {
		if (t.name) names.unshift(t.name);
	}
	const file = ctx.task.file?.name ?? "";
	const id = [file, ...names.slice(names[0] === file ? 1 : 0)].join(" > ");
	if (patterns.some((re) => re.test(id))) {
		ctx.skip("deselected (deselect.txt)");
	}
});
