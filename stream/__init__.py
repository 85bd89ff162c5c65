"""The outbound event stream: every public complaint event as a CloudEvent (``envelope``), read in
pages from the notification log (``feed``), pushed to webhook receivers (``webhooks`` with its
store, sender, signature and SSRF guard) and relayed to NATS JetStream (``relay``).

It is handed an application and the few values it needs (``DeliveryPolicy``, ``RelayOptions``, a
``Sealer``), never ``Settings``, and imports nothing from ``infra`` or ``api``; the HTTP routes
that serve it stay in ``api/``.
"""
