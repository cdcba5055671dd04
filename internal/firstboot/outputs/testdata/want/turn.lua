external_service_secret = "s3cr<t>&0123456789abcdef0123456789";
host = "meet-0003.example.org"
