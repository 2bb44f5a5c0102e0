"""Run: the graph, its options and inputs, the local runner and the Dataflow launcher, sinks."""
