-- faxd schema, version 5: the company logo drawn on cover pages, kept as a blob (the API
-- decodes a PNG given as a data: URI in account_data.company_logo); each outbox record
-- keeps the logo it was submitted with.
ALTER TABLE accounts ADD COLUMN logo_blob TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN logo_blob TEXT NOT NULL DEFAULT '';
