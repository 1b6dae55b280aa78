CREATE OR REPLACE FUNCTION transfer(sender VARCHAR, to VARCHAR, amount NUMERIC)
RETURNS VARCHAR AS $$
DECLARE
    sender_balance NUMERIC;
BEGIN
    SELECT balance INTO sender_balance FROM accounts WHERE id = sender;
    IF NOT FOUND THEN
        RETURN 'Sender not found';
    END IF;
    IF sender_balance < amount THEN
        RETURN 'Not enough balance';
    END IF;
    PERFORM id FROM accounts WHERE id = to;
    IF NOT FOUND THEN
        RETURN 'Receiver not found';
    END IF;
    UPDATE accounts SET balance = balance - amount WHERE id = sender;
    UPDATE accounts SET balance = balance + amount WHERE id = to;
    RETURN 'OK';
END;
$$ LANGUAGE plpgsql