"""Dense + keyword retrieval, fused and ranked by source."""
