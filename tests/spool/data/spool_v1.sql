-- A spool written by hookd with schema version 1 (commit 827245c): 3 events to four handlers,
-- deliveries done, dead, waiting for a retry, and one left claimed by a process killed with
-- kill -9. Produced with sqlite3 .dump; the tests load it into a fresh file to migrate it.
PRAGMA journal_mode=WAL;
PRAGMA user_version=1;
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE events(
  seq INTEGER PRIMARY KEY,
  endpoint TEXT NOT NULL,
  event_id TEXT NOT NULL,
  type TEXT NOT NULL,
  provider TEXT NOT NULL,
  subject TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  cloudevent TEXT NOT NULL
);
INSERT INTO events VALUES(1,'altoviz','v1-0','customer.created','altoviz','0',1796039447490,'{"specversion":"1.0","id":"v1-0","source":"hookd/altoviz","type":"customer.created","subject":"0","time":"2026-11-30T11:50:47.490Z","datacontenttype":"application/json","provider":"altoviz","endpoint":"altoviz","entity":"customer","action":"created","providertype":"CustomerCreated","data":{"id":0,"companyName":"Load test","email":"load@example.com","pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}');
INSERT INTO events VALUES(2,'altoviz','v1-1','customer.created','altoviz','1',1796039447495,'{"specversion":"1.0","id":"v1-1","source":"hookd/altoviz","type":"customer.created","subject":"1","time":"2026-11-30T11:50:47.495Z","datacontenttype":"application/json","provider":"altoviz","endpoint":"altoviz","entity":"customer","action":"created","providertype":"CustomerCreated","data":{"id":1,"companyName":"Load test","email":"load@example.com","pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}');
INSERT INTO events VALUES(3,'altoviz','v1-2','customer.created','altoviz','2',1796039447498,'{"specversion":"1.0","id":"v1-2","source":"hookd/altoviz","type":"customer.created","subject":"2","time":"2026-11-30T11:50:47.498Z","datacontenttype":"application/json","provider":"altoviz","endpoint":"altoviz","entity":"customer","action":"created","providertype":"CustomerCreated","data":{"id":2,"companyName":"Load test","email":"load@example.com","pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}');
CREATE TABLE dedup_keys(
  endpoint TEXT NOT NULL,
  event_id TEXT NOT NULL,
  first_seen INTEGER NOT NULL,
  UNIQUE(endpoint, event_id)
);
INSERT INTO dedup_keys VALUES('altoviz','v1-0',1796039447491);
INSERT INTO dedup_keys VALUES('altoviz','v1-1',1796039447495);
INSERT INTO dedup_keys VALUES('altoviz','v1-2',1796039447498);
CREATE TABLE deliveries(
  id INTEGER PRIMARY KEY,
  event_seq INTEGER NOT NULL REFERENCES events(seq) ON DELETE CASCADE,
  handler TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'dead')),
  attempts INTEGER NOT NULL DEFAULT 0,
  round_attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  claim INTEGER,
  claimed_at INTEGER,
  updated_at INTEGER NOT NULL,
  UNIQUE(event_seq, handler)
);
INSERT INTO deliveries VALUES(1,1,'audit','done',1,1,1796039447496,'',NULL,NULL,1796039447496);
INSERT INTO deliveries VALUES(2,1,'broken','pending',1,1,1796041813895,'exit status 1',NULL,NULL,1796039447534);
INSERT INTO deliveries VALUES(3,1,'hopeless','dead',1,1,1796039447520,'exit status 1',NULL,NULL,1796039447520);
INSERT INTO deliveries VALUES(4,1,'slow','pending',0,0,1796039447491,'',1936854714761280017,1796039447499,1796039447491);
INSERT INTO deliveries VALUES(5,2,'audit','done',1,1,1796039447521,'',NULL,NULL,1796039447521);
INSERT INTO deliveries VALUES(6,2,'broken','pending',1,1,1796042766883,'exit status 1',NULL,NULL,1796039447547);
INSERT INTO deliveries VALUES(7,2,'hopeless','dead',1,1,1796039447532,'exit status 1',NULL,NULL,1796039447532);
INSERT INTO deliveries VALUES(8,2,'slow','pending',0,0,1796039447495,'',NULL,NULL,1796039447495);
INSERT INTO deliveries VALUES(9,3,'audit','done',1,1,1796039447521,'',NULL,NULL,1796039447521);
INSERT INTO deliveries VALUES(10,3,'broken','pending',1,1,1796041595745,'exit status 1',NULL,NULL,1796039447554);
INSERT INTO deliveries VALUES(11,3,'hopeless','dead',1,1,1796039447546,'exit status 1',NULL,NULL,1796039447546);
INSERT INTO deliveries VALUES(12,3,'slow','pending',0,0,1796039447498,'',NULL,NULL,1796039447498);
CREATE TABLE attempts(
  delivery_id INTEGER NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
  number INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL,
  ok INTEGER NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  PRIMARY KEY(delivery_id, number)
) WITHOUT ROWID;
INSERT INTO attempts VALUES(1,1,1796039447494,1796039447496,1,'');
INSERT INTO attempts VALUES(2,1,1796039447495,1796039447534,0,'exit status 1');
INSERT INTO attempts VALUES(3,1,1796039447499,1796039447520,0,'exit status 1');
INSERT INTO attempts VALUES(5,1,1796039447502,1796039447521,1,'');
INSERT INTO attempts VALUES(6,1,1796039447535,1796039447547,0,'exit status 1');
INSERT INTO attempts VALUES(7,1,1796039447521,1796039447532,0,'exit status 1');
INSERT INTO attempts VALUES(9,1,1796039447521,1796039447521,1,'');
INSERT INTO attempts VALUES(10,1,1796039447547,1796039447554,0,'exit status 1');
INSERT INTO attempts VALUES(11,1,1796039447532,1796039447546,0,'exit status 1');
CREATE INDEX events_by_event_id ON events(event_id);
CREATE INDEX events_by_received ON events(received_at);
CREATE INDEX dedup_keys_by_age ON dedup_keys(first_seen);
CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE state = 'pending' AND claim IS NULL;
CREATE INDEX deliveries_by_state ON deliveries(state, handler);
CREATE INDEX deliveries_claimed ON deliveries(claim) WHERE claim IS NOT NULL;
COMMIT;
