"""Push delivery: the sender protocol, the FCM adapter, the log sender and the outbox
worker. Domain code never imports this package; it calls
`domain.notifications.service.notify` and the worker does the rest after commit."""
