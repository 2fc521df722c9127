"""Conversation intelligence, step 4 of DESIGN.md §2: classify a request (type, urgency, sentiment,
needs-a-human, topic, confidence) with the cheap model; abstain to a human under the portal's threshold."""
