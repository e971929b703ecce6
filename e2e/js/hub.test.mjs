// End-to-end tests of Haven with the official @huggingface/hub client.
// Run by the Go test TestJS, which starts the server and sets HF_ENDPOINT,
// HAVEN_TOKEN (alice, write), HAVEN_OTHER_TOKEN (bob, write) and HAVEN_ORG.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import {
	HubApiError,
	createBranch,
	createRepo,
	deleteFile,
	downloadFile,
	fileExists,
	listFiles,
	listModels,
	modelInfo,
	repoExists,
	uploadFiles,
	whoAmI,
} from "@huggingface/hub";

const hubUrl = process.env.HF_ENDPOINT;
const accessToken = process.env.HAVEN_TOKEN;
const otherToken = process.env.HAVEN_OTHER_TOKEN;
const org = process.env.HAVEN_ORG;
const user = process.env.HAVEN_USER ?? "alice";
if (!hubUrl || !accessToken || !otherToken) {
	throw new Error("HF_ENDPOINT, HAVEN_TOKEN and HAVEN_OTHER_TOKEN must be set (run through go test ./e2e -run TestJS)");
}

const unique = (prefix) => `${prefix}-${randomBytes(5).toString("hex")}`;
const sha256 = (buf) => createHash("sha256").update(buf).digest("hex");
const bytesOf = async (blob) => Buffer.from(await blob.arrayBuffer());

async function collect(gen) {
	const out = [];
	for await (const x of gen) out.push(x);
	return out;
}

test("whoAmI", async () => {
	const me = await whoAmI({ accessToken, hubUrl });
	assert.equal(me.type, "user");
	assert.equal(me.name, user);
	assert.ok(me.orgs.some((o) => o.name === org), `orgs ${JSON.stringify(me.orgs)} should contain ${org}`);
	assert.equal(me.auth.accessToken.role, "write");
	const bob = await whoAmI({ accessToken: otherToken, hubUrl });
	assert.equal(bob.name, "bob");
});

test("createRepo, uploadFiles with a large LFS file, download and list", async () => {
	const name = `${user}/${unique("js-model")}`;
	const repo = { type: "model", name };
	const created = await createRepo({ repo, accessToken, hubUrl });
	assert.equal(created.repoUrl, `${hubUrl}/${name}`);

	const big = randomBytes(12 * 1024 * 1024);
	const config = Buffer.from('{"model_type": "bert"}\n');
	const notes = Buffer.from("nested notes\n");
	const out = await uploadFiles({
		repo,
		accessToken,
		hubUrl,
		commitTitle: "Upload from JS",
		files: [
			{ path: "model.safetensors", content: new Blob([big]) },
			{ path: "config.json", content: new Blob([config]) },
			{ path: "docs/notes.txt", content: new Blob([notes]) },
		],
	});
	assert.match(out.commit.oid, /^[0-9a-f]{40}$/);
	assert.equal(out.commit.url, `${hubUrl}/${name}/commit/${out.commit.oid}`);

	const files = await collect(listFiles({ repo, recursive: true, accessToken, hubUrl }));
	const byPath = Object.fromEntries(files.map((f) => [f.path, f]));
	assert.deepEqual(
		Object.keys(byPath).sort(),
		[".gitattributes", "config.json", "docs", "docs/notes.txt", "model.safetensors"],
	);
	assert.equal(byPath["docs"].type, "directory");
	assert.equal(byPath["model.safetensors"].type, "file");
	assert.equal(byPath["model.safetensors"].size, big.length);
	assert.equal(byPath["model.safetensors"].lfs?.oid, sha256(big));
	// xetHash is only sent by a server that serves the file through Xet too; then it is a 64-hex hash.
	const xetHash = byPath["model.safetensors"].xetHash;
	assert.ok(xetHash === undefined || /^[0-9a-f]{64}$/.test(xetHash), `xetHash ${xetHash}`);
	assert.equal(byPath["config.json"].lfs, undefined);

	const top = await collect(listFiles({ repo, accessToken, hubUrl }));
	assert.deepEqual(top.map((f) => f.path).sort(), [".gitattributes", "config.json", "docs", "model.safetensors"]);

	const blob = await downloadFile({ repo, path: "model.safetensors", accessToken, hubUrl });
	assert.ok(blob);
	assert.equal(blob.size, big.length);
	const got = await bytesOf(blob);
	assert.equal(sha256(got), sha256(big));
	// A slice reads a byte range.
	const slice = await bytesOf(blob.slice(1000, 1100));
	assert.deepEqual(slice, big.subarray(1000, 1100));

	assert.deepEqual(await bytesOf(await downloadFile({ repo, path: "config.json", hubUrl })), config);
	assert.deepEqual(await bytesOf(await downloadFile({ repo, path: "docs/notes.txt", revision: out.commit.oid, hubUrl })), notes);
	const pointer = (await bytesOf(await downloadFile({ repo, path: "model.safetensors", raw: true, hubUrl }))).toString();
	assert.equal(pointer, `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(big)}\nsize ${big.length}\n`);
	assert.equal(await downloadFile({ repo, path: "missing.txt", hubUrl }), null);

	const info = await modelInfo({ name, accessToken, hubUrl, additionalFields: ["sha", "author"] });
	assert.equal(info.name, name);
	assert.equal(info.private, false);
	assert.equal(info.sha, out.commit.oid);
	assert.equal(info.author, user);
	assert.ok(info.updatedAt instanceof Date && !Number.isNaN(info.updatedAt.getTime()));
	assert.equal(typeof info.id, "string");
});

test("fileExists and deleteFile", async () => {
	const name = `${user}/${unique("js-delete")}`;
	const repo = { type: "model", name };
	await createRepo({ repo, accessToken, hubUrl });
	await uploadFiles({
		repo,
		accessToken,
		hubUrl,
		files: [
			{ path: "keep.txt", content: new Blob(["keep"]) },
			{ path: "remove.txt", content: new Blob(["remove"]) },
		],
	});
	assert.equal(await fileExists({ repo, path: "remove.txt", hubUrl }), true);
	assert.equal(await fileExists({ repo, path: "never-there.txt", hubUrl }), false);
	const del = await deleteFile({ repo, path: "remove.txt", accessToken, hubUrl, commitTitle: "remove a file" });
	assert.match(del.commit.oid, /^[0-9a-f]{40}$/);
	assert.equal(await fileExists({ repo, path: "remove.txt", hubUrl }), false);
	assert.equal(await fileExists({ repo, path: "keep.txt", hubUrl }), true);
	const files = (await collect(listFiles({ repo, hubUrl }))).map((f) => f.path).sort();
	assert.deepEqual(files, [".gitattributes", "keep.txt"]);
});

test("createRepo with initial files, datasets and conflicts", async () => {
	const name = `${user}/${unique("js-files")}`;
	const readme = Buffer.from("---\nlicense: mit\n---\n# Made by JS\n");
	await createRepo({
		repo: name,
		accessToken,
		hubUrl,
		files: [{ path: "README.md", content: new Blob([readme]) }],
	});
	assert.deepEqual(await bytesOf(await downloadFile({ repo: name, path: "README.md", hubUrl })), readme);

	await assert.rejects(createRepo({ repo: name, accessToken, hubUrl }), (err) => {
		assert.ok(err instanceof HubApiError);
		assert.equal(err.statusCode, 409);
		return true;
	});

	const ds = `${user}/${unique("js-data")}`;
	const created = await createRepo({ repo: { type: "dataset", name: ds }, accessToken, hubUrl });
	assert.equal(created.repoUrl, `${hubUrl}/datasets/${ds}`);
	await uploadFiles({
		repo: { type: "dataset", name: ds },
		accessToken,
		hubUrl,
		files: [{ path: "data.csv", content: new Blob(["a,b\n1,2\n"]) }],
	});
	const data = await downloadFile({ repo: { type: "dataset", name: ds }, path: "data.csv", hubUrl });
	assert.equal(await data.text(), "a,b\n1,2\n");
});

test("listModels with search", async () => {
	const word = unique("jslist");
	const names = [];
	for (let i = 0; i < 3; i++) {
		const name = `${user}/${word}-${i}`;
		await createRepo({ repo: name, accessToken, hubUrl });
		names.push(name);
	}
	await createRepo({ repo: `${org}/${word}-org`, accessToken, hubUrl });
	const found = await collect(listModels({ search: { query: word }, hubUrl }));
	assert.deepEqual(found.map((m) => m.name).sort(), [...names, `${org}/${word}-org`].sort());
	for (const m of found) {
		assert.equal(typeof m.id, "string");
		assert.equal(m.private, false);
		assert.equal(m.likes, 0);
		assert.ok(m.updatedAt instanceof Date && !Number.isNaN(m.updatedAt.getTime()));
	}
	const owned = await collect(listModels({ search: { query: word, owner: org }, hubUrl }));
	assert.deepEqual(owned.map((m) => m.name), [`${org}/${word}-org`]);
	const limited = await collect(listModels({ search: { query: word }, limit: 2, hubUrl }));
	assert.equal(limited.length, 2);
});

test("a private repository is invisible to another token", async () => {
	const name = `${user}/${unique("js-private")}`;
	const repo = { type: "model", name };
	await createRepo({ repo, accessToken, hubUrl, private: true });
	await uploadFiles({ repo, accessToken, hubUrl, files: [{ path: "secret.txt", content: new Blob(["secret"]) }] });

	const mine = await modelInfo({ name, accessToken, hubUrl });
	assert.equal(mine.private, true);
	assert.equal(await repoExists({ repo, accessToken, hubUrl }), true);
	assert.equal(await fileExists({ repo, path: "secret.txt", accessToken, hubUrl }), true);

	assert.equal(await repoExists({ repo, accessToken: otherToken, hubUrl }), false);
	assert.equal(await repoExists({ repo, hubUrl }), false);
	assert.equal(await fileExists({ repo, path: "secret.txt", accessToken: otherToken, hubUrl }), false);
	await assert.rejects(modelInfo({ name, accessToken: otherToken, hubUrl }), (err) => {
		assert.ok(err instanceof HubApiError);
		assert.equal(err.statusCode, 404);
		return true;
	});
	await assert.rejects(downloadFile({ repo, path: "secret.txt", accessToken: otherToken, hubUrl }), HubApiError);
	await assert.rejects(
		uploadFiles({ repo, accessToken: otherToken, hubUrl, files: [{ path: "bob.txt", content: new Blob(["bob"]) }] }),
		HubApiError,
	);
	const listedForBob = await collect(listModels({ search: { query: name.split("/")[1] }, accessToken: otherToken, hubUrl }));
	assert.deepEqual(listedForBob, []);
	const listedForAlice = await collect(listModels({ search: { query: name.split("/")[1] }, accessToken, hubUrl }));
	assert.deepEqual(listedForAlice.map((m) => m.name), [name]);
});

test("createBranch: empty branches, conflicts and overwrite; createRepo with a licence", async () => {
	const name = `${user}/${unique("js-branch")}`;
	await createRepo({ repo: name, accessToken, hubUrl, license: "mit" });
	assert.equal(await (await downloadFile({ repo: name, path: "README.md", hubUrl })).text(), "---\nlicense: mit\n---\n");
	await uploadFiles({ repo: name, accessToken, hubUrl, files: [{ path: "file.txt", content: new Blob(["hello"]) }] });

	await createBranch({ repo: name, branch: "empty", empty: true, accessToken, hubUrl });
	assert.equal(await downloadFile({ repo: name, path: "file.txt", revision: "empty", hubUrl }), null);
	assert.deepEqual(await collect(listFiles({ repo: name, revision: "empty", hubUrl })), []);

	await createBranch({ repo: name, branch: "copy", accessToken, hubUrl });
	await assert.rejects(createBranch({ repo: name, branch: "copy", accessToken, hubUrl }), (err) => {
		assert.ok(err instanceof HubApiError);
		assert.equal(err.statusCode, 409);
		return true;
	});
	await createBranch({ repo: name, branch: "copy", overwrite: true, empty: true, accessToken, hubUrl });
	assert.equal(await downloadFile({ repo: name, path: "file.txt", revision: "copy", hubUrl }), null);
	await createBranch({ repo: name, branch: "copy", overwrite: true, revision: "main", accessToken, hubUrl });
	assert.equal(await (await downloadFile({ repo: name, path: "file.txt", revision: "copy", hubUrl })).text(), "hello");
});
