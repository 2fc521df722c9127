"""Small Protocols and our own data types; domains depend on these, adapters implement them."""
