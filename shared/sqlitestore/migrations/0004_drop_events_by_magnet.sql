-- Version 4.
-- events_by_magnet: nothing reads events by magnet any more, so the index
--   only cost time on every write.
DROP INDEX IF EXISTS events_by_magnet;
