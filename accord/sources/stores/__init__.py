"""Remote file stores (S3, Azure Blob Storage, SFTP): the settings that reach one, its client, and the first
steps of a connection test. Shared by the source connectors that read a store and the destinations that
write to one, so that the same fault gets the same step and message on both sides."""
