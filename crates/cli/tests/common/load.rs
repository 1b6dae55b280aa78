//! What the kill-under-load harnesses share: a seeded generator for the
//! kill moments, and the chain-wide figures they check after each kill.

use aergo_client::client::RpcClient;
use aergo_types::Hash;
use serde_json::json;

/// A contract whose `hit()` counts its successful calls: the harnesses
/// compare it with the calls the chain holds.
pub const COUNTER: &str = "CREATE TABLE hits (k INT PRIMARY KEY, n BIGINT NOT NULL);
INSERT INTO hits VALUES (1, 0);
CREATE FUNCTION hit() RETURNS BIGINT AS $$
BEGIN
    UPDATE hits SET n = n + 1 WHERE k = 1;
    RETURN (SELECT n FROM hits WHERE k = 1);
END;
$$ LANGUAGE plpgsql;";

/// xorshift64*: kill moments and victims reproducible from a printed seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// The total of all balances (summed as text: NUMERIC sums are exact).
pub async fn total_balance(client: &RpcClient) -> u128 {
    let r = client.call("query", json!(["SELECT sum(balance) FROM sys.accounts", {}])).await.unwrap();
    let v = &r["rows"][0][0];
    v.as_str().map(|s| s.parse().unwrap()).or_else(|| v.as_u64().map(u128::from)).unwrap_or_else(|| panic!("{r}"))
}

/// `(height, block hash, status)` of a transaction's receipt, if it has one.
pub async fn receipt_at(client: &RpcClient, hash: &Hash) -> Option<(u64, String, String)> {
    let r = client.receipt(hash).await.unwrap()?;
    Some((
        r["blockHeight"].as_u64().unwrap(),
        r["blockHash"].as_str().unwrap().to_string(),
        r["status"].as_str().unwrap().to_string(),
    ))
}
