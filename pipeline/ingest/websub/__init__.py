"""WebSub push (W3C WebSub): discover a feed's hub, subscribe, verify, receive pushes.

    discovery       rel=hub / rel=self from the Link header and the feed document
    signature       X-Hub-Signature HMAC (sha1/256/384/512), constant-time check
    subscriptions   the per-feed subscription state machine: lease, renewal, unsubscribe
    callback        the callback HTTP server (werkzeug): intent GETs and signed POSTs
    client          one worker's WebSub subscriber: the three above plus the hub requests
    transform       the Beam side: the fetch stage's push tap, and Pub/Sub pushes on Dataflow

How it fits the flow is in docs/websub.md.
"""
