@_exported import PurserYAML
