-- Evaluation results that model cards report (model-index, .eval_results),
-- one row per metric, replaced whenever the card changes. Leaderboards walk
-- eval_results_board in value order for one (dataset, metric) and stop once
-- they have a page of public models.
CREATE TABLE eval_results (
	id             BIGSERIAL PRIMARY KEY,
	repo_id        BIGINT NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
	position       INTEGER NOT NULL,
	model_name     TEXT NOT NULL DEFAULT '',
	task_type      TEXT NOT NULL DEFAULT '',
	task_name      TEXT NOT NULL DEFAULT '',
	dataset_id     TEXT NOT NULL,
	dataset_name   TEXT NOT NULL DEFAULT '',
	dataset_config TEXT NOT NULL DEFAULT '',
	dataset_split  TEXT NOT NULL DEFAULT '',
	metric_type    TEXT NOT NULL,
	metric_name    TEXT NOT NULL DEFAULT '',
	value          DOUBLE PRECISION,
	value_text     TEXT NOT NULL DEFAULT '',
	verified       BOOLEAN NOT NULL DEFAULT FALSE,
	source_name    TEXT NOT NULL DEFAULT '',
	source_url     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX eval_results_repo ON eval_results (repo_id, position);
CREATE INDEX eval_results_board ON eval_results (dataset_id, metric_type, value, repo_id);
CREATE INDEX eval_results_task ON eval_results (task_type, dataset_id, metric_type);

-- The documentation score of a repository's card (0-100, see card.Quality),
-- stored beside its card metadata so that listings sort and filter on it.
ALTER TABLE repos ADD COLUMN card_score INTEGER NOT NULL DEFAULT 0;
CREATE INDEX repos_card_score ON repos (type, card_score, id, private);
