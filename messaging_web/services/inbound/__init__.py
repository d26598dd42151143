"""Reply by email: reply addresses (addresses), reading a received email (parsing), the one path every
received email takes into its thread or the undelivered replies list (receiving), the people's decisions on
held replies (decisions), and the ways emails arrive: our SMTP receiver (smtp_receiver) and the providers'
inbound webhooks (webhooks)."""
