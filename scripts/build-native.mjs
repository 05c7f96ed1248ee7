// Builds the project's native pieces (the XNNPACK delegate shim); written by the inference work.
