"""What students hand in: answer files (YAML/JSON) and code (.py/.ipynb), read without ever changing them."""
