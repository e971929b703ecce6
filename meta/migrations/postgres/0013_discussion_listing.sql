-- Every column the discussion listing filters on, after the order it walks
-- (num), so that counting and skipping to a far page read only this index
-- and not the wide rows; only the rows of the page are read from the table.
CREATE INDEX discussions_listing ON discussions (repo_id, num, status, is_pull_request, author);
