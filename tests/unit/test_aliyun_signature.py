from channels.sms.aliyun import percent_encode, phone_for_platform, sign


def test_signature_matches_the_platforms_published_example() -> None:
    params = {
        "AccessKeyId": "testId",
        "Action": "SendSms",
        "Format": "XML",
        "OutId": "123",
        "PhoneNumbers": "15300000001",
        "RegionId": "cn-hangzhou",
        "SignName": "阿里云短信测试专用",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
        "SignatureVersion": "1.0",
        "TemplateCode": "SMS_71390007",
        "TemplateParam": '{"customer":"test"}',
        "Timestamp": "2017-07-12T02:42:19Z",
        "Version": "2017-05-25",
    }
    assert sign(params, "testSecret", "GET") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_percent_encoding_rules() -> None:
    assert percent_encode("a b*c~d/") == "a%20b%2Ac~d%2F"


def test_phone_numbers_for_the_platform() -> None:
    assert phone_for_platform("+8613800138000") == "13800138000"
    assert phone_for_platform("+14155550123") == "0014155550123"
