-- The links cards make between repositories: a model's base models with its
-- relation to them (adapter, finetune, quantized, merge), the datasets a
-- model was trained on (dataset), the models and datasets a Space uses
-- (space_model, space_dataset). target is the lower-cased "ns/name" the
-- card names, which need not exist. Rewritten when the card changes.
CREATE TABLE repo_links (
	repo_id  BIGINT  NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
	target   TEXT NOT NULL,
	relation TEXT NOT NULL,
	PRIMARY KEY (repo_id, relation, target)
);
CREATE INDEX repo_links_target ON repo_links (target, relation, repo_id);
