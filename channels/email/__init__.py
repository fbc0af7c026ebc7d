"""Email: SMTP sending with a connection pool, MIME building, and the local SMTP catcher."""
