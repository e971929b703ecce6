-- discussions_disabled closes a repository's Community tab to new
-- discussions, pull requests and comments (the Hub's discussionsDisabled
-- setting); what is already there stays readable.
ALTER TABLE repos ADD COLUMN discussions_disabled BOOLEAN NOT NULL DEFAULT FALSE;
