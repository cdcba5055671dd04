# want: project_id must be a Scaleway project ID
project_id = "my-project"
