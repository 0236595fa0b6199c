"""What t_reply.py reads of t_suspend.py's state (kept apart so the two do not import each other)."""

REPLY_SUSPENDED = "tm_reply_suspended"  # ctx.local: t_suspend() ran in onreply_route for this reply
