"""Routing to one pod: the selector-less leader Service and its EndpointSlices, as JSON for server-side
apply, the checks of whether observed objects differ from them, their names, and which are ours. Pure;
shared by the director (a leader for a source Service) and the pools (a leader Service for a pool)."""
