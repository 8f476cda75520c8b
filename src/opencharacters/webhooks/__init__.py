"""Webhooks (an extension): signing, sending and the delivery loop over the store's outbox."""
