-- faxd schema, version 3: fax listing indexes. Listing without a category (inbox and
-- sent together) walks (owner_id, sort_time, id) newest first and stops after `limit`
-- rows instead of sorting the whole history; a category adds it to the key.

DROP INDEX faxes_list;
CREATE INDEX faxes_list ON faxes (owner_id, category, sort_time, id);
CREATE INDEX faxes_owner_time ON faxes (owner_id, sort_time, id);
