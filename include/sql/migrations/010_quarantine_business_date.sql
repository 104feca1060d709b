-- 010: a quarantined record's own business day (rule 9: the local date at its location), so that the
-- console counts quarantine on the days it plots sales (issue 19, item 2). NULL when the record's time
-- could not be read; such a record counts on quarantined_on, the UTC day it was first met. Rows written
-- before this migration get theirs the next time a run meets the record.
ALTER TABLE quarantine ADD COLUMN business_date DATE;
CREATE INDEX quarantine_business_day ON quarantine (credential, business_date);
