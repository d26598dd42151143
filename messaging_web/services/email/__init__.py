"""Sending email: the outbox (`outbox.queue_email`, the one way an email is written), the dispatcher that hands
committed rows to a worker, delivery through the store's provider (`providers/`), what providers report back
(`provider_events`, `sns`), open and click tracking, the email log, and the stores' sender settings wizard."""
