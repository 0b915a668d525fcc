"""The Lambda service: functions, versions and aliases, environment pools, concurrency and
scaling, synchronous and asynchronous invocation.

Private modules, one concern each: ``_registry`` (the control plane's store), ``_policy`` (the
pure scaling and concurrency policy, shared with :mod:`kernel_runtime.simulate`), ``_pools``
(live environment pools driven by the policy), ``_async`` (the event queue with retries,
destinations and dead-letter queues), ``_destinations`` (delivery to SQS, SNS, EventBridge and
Lambda), ``_bytecode`` (a package's modules compiled once, when it is deployed).
"""

__all__: list[str] = []
