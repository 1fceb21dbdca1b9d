"""The Flower engine: the benchmark's rounds on Flower's simulation and deployment runtimes.

`task` is the message format both sides share, `client_app` the ClientApp (one SuperNode =
one client), `server_app` the ServerApp (the runner's rounds over a Flower Grid),
`simulation` the entry point of `fedocr run --set engine=flower`, `loopback` a local
deployment (a SuperLink and N SuperNodes as processes on 127.0.0.1).
"""

# Node config keys naming the client a SuperNode is; Flower's simulation sets both on every node.
PARTITION_ID = "partition-id"
NUM_PARTITIONS = "num-partitions"
