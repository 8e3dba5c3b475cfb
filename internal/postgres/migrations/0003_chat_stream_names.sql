-- Stream names in byte order, whatever the database's collation, so that
-- eventlog.Lister can range-scan the streams of one kind ("channel:" up to
-- "channel;"). The chat projector and rebuild enumerate streams this way.
CREATE INDEX eventlog_streams_name_bytes ON eventlog_streams (name COLLATE "C");
