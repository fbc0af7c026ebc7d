"""Policy (pure), the due-work pump and the sweeper."""
