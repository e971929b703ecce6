-- card_error is why the default branch's README front matter does not parse
-- ("" when it does or there is none); repo info reports it beside the
-- missing cardData, as the repository page does.
ALTER TABLE repos ADD COLUMN card_error TEXT NOT NULL DEFAULT '';
