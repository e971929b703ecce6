-- The list of leaderboards, kept up to date by the store whenever a
-- model's results, visibility or existence change, so that the index of
-- boards does not group every result on each request. task_filter is ''
-- for the counts over every task, else the task the counts are of; the
-- public_ columns count and name only public models' results, the all_
-- ones every model's (for administrators). Models of the caller's own
-- private namespaces are added at read time.
CREATE TABLE eval_boards (
	task_filter       TEXT NOT NULL,
	dataset_id        TEXT NOT NULL,
	metric_type       TEXT NOT NULL,
	public_models     INTEGER NOT NULL,
	dataset_name      TEXT NOT NULL DEFAULT '',
	metric_name       TEXT NOT NULL DEFAULT '',
	task_type         TEXT NOT NULL DEFAULT '',
	all_models        INTEGER NOT NULL,
	all_dataset_name  TEXT NOT NULL DEFAULT '',
	all_metric_name   TEXT NOT NULL DEFAULT '',
	all_task_type     TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (task_filter, dataset_id, metric_type)
);
CREATE INDEX eval_boards_board ON eval_boards (dataset_id, metric_type);

INSERT INTO eval_boards (task_filter, dataset_id, metric_type, public_models, dataset_name, metric_name, task_type,
	all_models, all_dataset_name, all_metric_name, all_task_type)
SELECT '', e.dataset_id, e.metric_type,
	COUNT(DISTINCT CASE WHEN r.private = FALSE THEN e.repo_id END),
	COALESCE(MAX(CASE WHEN r.private = FALSE THEN e.dataset_name END), ''),
	COALESCE(MAX(CASE WHEN r.private = FALSE THEN e.metric_name END), ''),
	COALESCE(MAX(CASE WHEN r.private = FALSE THEN e.task_type END), ''),
	COUNT(DISTINCT e.repo_id), MAX(e.dataset_name), MAX(e.metric_name), MAX(e.task_type)
FROM eval_results e JOIN repos r ON r.id = e.repo_id
WHERE e.value IS NOT NULL AND r.type = 'model'
GROUP BY e.dataset_id, e.metric_type;

INSERT INTO eval_boards (task_filter, dataset_id, metric_type, public_models, dataset_name, metric_name, task_type,
	all_models, all_dataset_name, all_metric_name, all_task_type)
SELECT e.task_type, e.dataset_id, e.metric_type,
	COUNT(DISTINCT CASE WHEN r.private = FALSE THEN e.repo_id END),
	COALESCE(MAX(CASE WHEN r.private = FALSE THEN e.dataset_name END), ''),
	COALESCE(MAX(CASE WHEN r.private = FALSE THEN e.metric_name END), ''),
	COALESCE(MAX(CASE WHEN r.private = FALSE THEN e.task_type END), ''),
	COUNT(DISTINCT e.repo_id), MAX(e.dataset_name), MAX(e.metric_name), MAX(e.task_type)
FROM eval_results e JOIN repos r ON r.id = e.repo_id
WHERE e.value IS NOT NULL AND r.type = 'model' AND e.task_type <> ''
GROUP BY e.task_type, e.dataset_id, e.metric_type;

-- A leaderboard keeps each model's best result only: this index finds a
-- model's other results on the same board.
CREATE INDEX eval_results_model_board ON eval_results (repo_id, dataset_id, metric_type, value);

-- The parameter count of a model, per data type, read from the headers of
-- its safetensors files on refresh; leaderboards filter on total.
CREATE TABLE repo_params (
	repo_id    INTEGER PRIMARY KEY REFERENCES repos (id) ON DELETE CASCADE,
	total      INTEGER NOT NULL,
	parameters TEXT NOT NULL
);
CREATE INDEX repo_params_total ON repo_params (total, repo_id);

-- Whether the linking repository is private, kept beside each link, so
-- that a model page counts its public descendants from the target index
-- alone, without reading the row of each.
ALTER TABLE repo_links ADD COLUMN private BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE repo_links SET private = (SELECT r.private FROM repos r WHERE r.id = repo_links.repo_id);
CREATE INDEX repo_links_visible ON repo_links (target, private, relation);
