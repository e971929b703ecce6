// Prints passed, failed, skipped and deselected (tests, and spec files left
// out whole) from vitest's JSON report, and
// the pass rate passed / (passed + failed). Files that failed to load count
// as one failure each.
import { readFileSync } from "node:fs";

const [report, deselectJSON, excludedFiles] = process.argv.slice(2);
const r = JSON.parse(readFileSync(report, "utf8"));
const patterns = JSON.parse(deselectJSON).map(
	(p) => new RegExp("^" + p.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*") + "$")
);
let passed = 0, failed = 0, skipped = 0, deselected = 0, broken = 0;
const failures = [];
for (const file of r.testResults) {
	const rel = file.name.slice(file.name.indexOf("/src/") + 1);
	if (file.assertionResults.length === 0 && file.status === "failed") {
		broken++;
		failures.push(`${rel}: ${(file.message || "").split("\n")[0]}`);
		continue;
	}
	for (const t of file.assertionResults) {
		const id = [rel, ...t.ancestorTitles, t.title].join(" > ");
		if (t.status === "passed") passed++;
		else if (t.status === "failed") {
			failed++;
			failures.push(`${id}: ${(t.failureMessages[0] || "").split("\n")[0]}`);
		} else if (patterns.some((re) => re.test(id))) deselected++;
		else skipped++;
	}
}
failed += broken;
if (failures.length) console.log("failed:\n  " + failures.join("\n  "));
const runnable = passed + failed;
const rate = runnable ? (100 * passed) / runnable : 0;
console.log(
	`passed ${passed}  failed ${failed}  skipped ${skipped}  deselected ${deselected} tests and ${excludedFiles} spec files  ` +
		`pass rate ${passed}/${runnable} = ${rate.toFixed(1)}%`
);
