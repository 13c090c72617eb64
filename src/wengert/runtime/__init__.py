"""What generated code calls at run time: cotangent accumulation, the mutation log, tangents."""
