package evotor

// Evotor's webhooks and its REST API v2 describe the same records under different names
// (openapi/openapi.yaml against openapi/evotor-rest.yaml): a webhook's `uuid`, `storeUuid`,
// `barCodes` are the API's `id`, `store_id`, `barcodes`. APINames maps, per kind of record, the
// webhook's name of each member the two spell differently to the API's; every other member has
// one name in both. The simulator turns webhooks into the API's shape with it
// (cmd/evotor-cloud/restsim), reconciliation turns the API's answers back (impl/reconcile).
var APINames = map[string]map[string]string{
	"store": {"uuid": "id"},
	"device": {"uuid": "id", "storeUuid": "store_id", "timezoneOffset": "timezone_offset", "firmwareVersion": "firmware_version",
		"serialNumber": "serial_number", "deviceModel": "device_model"},
	"employee": {"uuid": "id", "lastName": "last_name", "patronymicName": "patronymic_name", "roleId": "role_id"},
	"product": {"uuid": "id", "parentUuid": "parent_id", "measureName": "measure_name", "allowToSell": "allow_to_sell",
		"costPrice": "cost_price", "articleNumber": "article_number", "barCodes": "barcodes", "alcoCodes": "alcocodes",
		"alcoholByVolume": "alcohol_by_volume", "alcoholProductKindCode": "alcohol_product_kind_code", "tareVolume": "tare_volume",
		"isExcisable": "is_excisable", "isAgeLimited": "is_age_limited", "attributesChoices": "attributes_choices"},
	"product group": {"uuid": "id", "parentUuid": "parent_id", "barCodes": "barcodes"},
	"document": {"uuid": "id", "closeDate": "close_date", "timezoneOffset": "time_zone_offset", "sessionUUID": "session_id",
		"sessionUuid": "session_id", "sessionNumber": "session_number", "closeUserUuid": "close_user_id", "deviceUuid": "device_id",
		"storeUuid": "store_id"},
}
