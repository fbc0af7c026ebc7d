"""Debtor replies from every channel: matched to their case (`inbound`), classified by the pure
reader in `gateway.replies`, and acted on in the transaction that stores them (`effects`, with
`contacts`, `state`, `restrictions` and the gateway's own `answers`)."""
