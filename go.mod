module github.com/wxcloudenv/wxcloudenv

go 1.26.8
