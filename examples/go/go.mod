module gomon.example/goapps

go 1.22
