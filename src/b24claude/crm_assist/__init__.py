"""CRM assist: the client's CRM card as context for the answer, and what the conversation writes back."""
