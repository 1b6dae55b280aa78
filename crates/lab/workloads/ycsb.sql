-- A YCSB-like key-value store as an AERGO SQL contract (Cooper et al.,
-- SoCC 2010): one table of records, and the operations of its core
-- workloads as functions (read, update, insert, read-modify-write).
CREATE TABLE usertable (ycsb_key VARCHAR(64) PRIMARY KEY, field0 TEXT NOT NULL, version BIGINT NOT NULL);

CREATE FUNCTION ycsb_insert(k VARCHAR, v TEXT) RETURNS VOID AS $$
BEGIN
    INSERT INTO usertable VALUES (k, v, 0);
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION ycsb_read(k VARCHAR) RETURNS TEXT AS $$
DECLARE
    v TEXT;
BEGIN
    SELECT field0 INTO v FROM usertable WHERE ycsb_key = k;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no record %', k;
    END IF;
    RETURN v;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION ycsb_update(k VARCHAR, v TEXT) RETURNS VOID AS $$
BEGIN
    UPDATE usertable SET field0 = v, version = version + 1 WHERE ycsb_key = k;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no record %', k;
    END IF;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION ycsb_rmw(k VARCHAR, suffix TEXT) RETURNS BIGINT AS $$
DECLARE
    v TEXT;
    n BIGINT;
BEGIN
    SELECT field0, version INTO v, n FROM usertable WHERE ycsb_key = k;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no record %', k;
    END IF;
    UPDATE usertable SET field0 = left(v || suffix, 100), version = n + 1 WHERE ycsb_key = k;
    RETURN n + 1;
END;
$$ LANGUAGE plpgsql
