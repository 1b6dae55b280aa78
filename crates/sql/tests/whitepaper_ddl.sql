CREATE TABLE accounts (
    id VARCHAR(64) PRIMARY KEY,
    balance NUMERIC(20, 2) NOT NULL DEFAULT 0 CHECK (balance >= 0)
)