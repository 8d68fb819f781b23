"""The relight (光影控制) market API: APPCODE auth, X-Ca-Nonce, batches, the 235000xx code table."""
