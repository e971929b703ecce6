"""Fine-tuning on Haven: each task, started with POST /api/finetune, trains a tiny model as a job, pushes it,
and the result loads back; the training program itself resumes from checkpoints and refuses bad configs.

The runs themselves start together in conftest.py (fixture `runs`); the tests
here wait for the ones they check.
"""

import json
import re

import pytest
import yaml
from huggingface_hub import HfApi
from huggingface_hub.utils import get_session
from huggingface_hub.errors import RepositoryNotFoundError

SHA = re.compile(r"^[0-9a-f]{40}$")


def finished(run):
    """Asserts a run exited 0 through every stage and pushed; returns its pushed line."""
    assert run.rc == 0, str(run)
    stages = run.stages()
    assert stages[0] == "loading" and "training" in stages and stages[-2:] == ["pushing", "done"], str(run)
    pushed = run.last("pushed")
    assert SHA.match(pushed["revision"]), str(run)
    return pushed


def card(api, repo, revision):
    text = open(api.hf_hub_download(repo, "README.md", revision=revision)).read()
    assert text.startswith("---\n"), text[:500]
    meta = yaml.safe_load(text.split("---\n", 2)[1])
    return meta, text


def index_metrics(meta):
    (entry,) = meta["model-index"]
    (result,) = entry["results"]
    return result, {m["type"]: m["value"] for m in result["metrics"]}


def test_text_classifier_learns_and_pushes(runs, api, repos, user):
    run, _ = runs.result("classifier")
    pushed = finished(run)
    assert pushed["repo"] == f"{user}/ft-sentiment"
    evals = run.kinds("eval")
    assert len(evals) == 5, str(run)  # once per epoch
    final = evals[-1]
    assert float(final["eval_accuracy"]) >= 0.8, str(run)
    assert {"step", "epoch", "eval_loss", "eval_accuracy", "eval_f1"} <= set(final)
    progress = run.kinds("progress")
    assert progress, str(run)
    for p in progress:
        assert set(p) == {"step", "epoch", "loss", "learning_rate", "samples_per_second", "eta"}, p
        assert re.match(r"^\d+/\d+$", p["step"]) and re.match(r"^\d+s$", p["eta"]), p
    assert progress[-1]["step"] == "115/115"

    files = set(api.list_repo_files(pushed["repo"], revision=pushed["revision"]))
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "README.md"} <= files
    assert not any(f.endswith((".bin", ".pt", ".pth")) for f in files), files
    info = api.model_info(pushed["repo"])
    assert info.sha == pushed["revision"] and not info.private


def test_no_progress_bars_in_the_log(runs):
    run, _ = runs.result("classifier")  # a job's log: the program's stdout and stderr together
    assert "\r" not in run.stdout and "it/s]" not in run.stdout and "%|" not in run.stdout, str(run)
    _, direct = runs.result("resume")
    # Every stdout line is one of the line log's kinds: the Trainer's own log dicts are gone.
    for line in direct.stdout.splitlines():
        assert re.match(r"^(stage|progress|eval|checkpoint|resume|pushed) ", line), line


def test_finetune_is_a_job(runs, api, user):
    run, _ = runs.result("classifier")
    job = run.job
    assert job.status.stage == "COMPLETED" and job.labels["haven-finetune"] == "text-classification", job
    assert job.labels["output"] == f"{user}--ft-sentiment"
    listed = [j.id for j in api.list_jobs(namespace=user, labels={"haven-finetune": "text-classification"})]
    assert job.id in listed


@pytest.mark.parametrize("change,message", [
    ({"task": "image-generation"}, "Unknown task"),
    ({"columns": {"text": "text", "label": "rating"}}, "must hold class labels"),
    ({"columns": {"text": "text", "label": "sentiment"}}, 'no column "sentiment"'),
    ({"base_model": "nobody/nothing"}, "does not exist"),
    ({"output_repo": "ft-sentiment"}, "already exists"),
    ({"hyperparameters": {"epoch": 3}}, "Unknown hyperparameter"),
    ({"flavor": "a100x99"}, "Unknown hardware flavor"),
])
def test_bad_requests_are_refused_before_anything_runs(runs, api, repos, change, message):
    runs.result("classifier")  # ft-sentiment exists by then
    req = {"task": "text-classification", "base_model": repos["bert"], "dataset": repos["sentiment"],
           "columns": {"text": "text", "label": "label"}, "output_repo": "ft-refused"}
    req.update(change)
    r = get_session().post(f"{api.endpoint}/api/finetune", json=req, headers={"Authorization": f"Bearer {api.token}"})
    assert r.status_code in (400, 409), r.text
    assert message in r.json()["error"] and message in r.headers["X-Error-Message"], r.text


def test_classifier_loads_back_and_predicts(runs):
    _, check = runs.result("classifier")
    assert check, "the classifier run failed"
    assert check["id2label"] in ({"0": "negative", "1": "positive"}, {0: "negative", 1: "positive"})
    assert check["labels"] == ["positive", "negative"]


def test_classifier_card(runs, api, repos):
    run, _ = runs.result("classifier")
    pushed = finished(run)
    meta, text = card(api, pushed["repo"], pushed["revision"])
    assert meta["base_model"] == repos["bert"]
    assert meta["datasets"] == [repos["sentiment"]]
    assert meta["pipeline_tag"] == "text-classification"
    assert meta["library_name"] == "transformers"
    assert {"haven-finetune", "text-classification"} <= set(meta["tags"])
    result, metrics = index_metrics(meta)
    assert meta["model-index"][0]["name"] == "ft-sentiment"
    assert result["task"]["type"] == "text-classification"
    assert result["dataset"]["name"] == repos["sentiment"] and result["dataset"]["type"] == repos["sentiment"]
    final = run.kinds("eval")[-1]
    assert metrics["accuracy"] == pytest.approx(float(final["eval_accuracy"]), abs=1e-4)
    assert set(metrics) == {"loss", "accuracy", "f1"}
    assert "| Accuracy |" in text and "| learning_rate | 0.003 |" in text and "| epochs | 5 |" in text
    # The hub read the card too.
    info = api.model_info(pushed["repo"])
    assert info.pipeline_tag == "text-classification"
    assert "haven-finetune" in info.tags


def test_resume_from_checkpoint(runs):
    killed, again = runs.result("resume")
    assert killed.rc != 0 and killed.kinds("checkpoint"), str(killed)
    assert not killed.kinds("pushed"), str(killed)
    resumed = again.last("resume")
    step = int(resumed["step"])
    assert resumed["checkpoint"] == f"checkpoint-{step}" and 5 <= step < 40 and step % 5 == 0, str(again)
    finished(again)
    progress = again.kinds("progress")
    assert int(progress[0]["step"].split("/")[0]) == step + 1, str(again)
    assert progress[-1]["step"] == "40/40"
    assert again.kinds("eval")[0]["step"] == str(step + 5 if step + 5 <= 40 else 40), str(again)


def test_lora_adapter(runs, api, endpoint, repos, user):
    run, check = runs.result("lora")
    pushed = finished(run)
    final = run.kinds("eval")[-1]
    assert set(final) == {"step", "epoch", "eval_loss", "eval_perplexity"}, str(run)
    files = set(api.list_repo_files(pushed["repo"]))
    assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "README.md"} <= files, files
    assert "model.safetensors" not in files
    # private: someone without a token does not see it
    assert api.model_info(pushed["repo"]).private
    with pytest.raises(RepositoryNotFoundError):
        HfApi(endpoint=endpoint, token=False).model_info(pushed["repo"])
    meta, _ = card(api, pushed["repo"], pushed["revision"])
    assert meta["library_name"] == "peft" and meta["pipeline_tag"] == "text-generation"
    assert meta["base_model"] == repos["causal"]
    _, metrics = index_metrics(meta)
    assert set(metrics) == {"loss", "perplexity"}
    assert check["base"] == repos["causal"]
    assert check["lora_modules"] > 0
    assert check["generated"].startswith("what colour is the red cat ?")


def test_token_classification(runs, api, repos):
    run = runs.result("tokens")
    pushed = finished(run)
    final = run.kinds("eval")[-1]
    assert {"eval_loss", "eval_accuracy", "eval_f1"} <= set(final), str(run)
    assert float(final["eval_accuracy"]) > 0.5
    files = set(api.list_repo_files(pushed["repo"]))
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= files
    meta, _ = card(api, pushed["repo"], pushed["revision"])
    assert meta["pipeline_tag"] == "token-classification"
    result, _ = index_metrics(meta)
    assert result["dataset"]["split"] == "validation"
    cfg = api.hf_hub_download(pushed["repo"], "config.json")
    assert json.load(open(cfg))["id2label"] == {"0": "O", "1": "PER", "2": "LOC"}


def test_sentence_embedding(runs, api, repos):
    run = runs.result("embedding")
    pushed = finished(run)
    final = run.kinds("eval")[-1]
    assert {"eval_loss", "eval_cosine_accuracy"} <= set(final), str(run)
    files = set(api.list_repo_files(pushed["repo"]))
    assert {"modules.json", "config_sentence_transformers.json", "model.safetensors", "README.md"} <= files, files
    meta, _ = card(api, pushed["repo"], pushed["revision"])
    assert meta["library_name"] == "sentence-transformers" and meta["pipeline_tag"] == "sentence-similarity"
    assert {"haven-finetune", "sentence-embedding"} <= set(meta["tags"])
    _, metrics = index_metrics(meta)
    assert "cosine_accuracy" in metrics


@pytest.mark.parametrize("case,message", [
    ("unknown-column", "error: unknown column 'sentiment' for label"),
    ("float-label", "error: label column 'rating' is not categorical"),
    ("unknown-hyperparameter", "error: unknown hyperparameter 'epoch'"),
])
def test_bad_config_is_one_clear_line(runs, case, message):
    run = runs.result("bad")[case]
    assert run.rc == 2, str(run)
    lines = run.stderr.strip().splitlines()
    assert lines and lines[-1].startswith(message), str(run)
    assert "Traceback" not in run.stderr, str(run)
    assert not run.kinds("pushed")
